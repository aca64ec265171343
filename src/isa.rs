//! The compiled versions of the vector kernels ([`Isa`]) and which of them this processor runs.
//!
//! Every version does the same arithmetic in the same order (no fused multiply-add, sums in the
//! fixed lanes of [`crate::arith`]), so their outcomes are bit-identical; they differ in vector
//! width only. The library never chooses a version from the environment: the caller passes one
//! (the command line reads `MINXINAN_ISA` and gives [`Isa::chosen`]'s answer to the runner).

/// Which compiled version of the kernels runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The build's baseline instruction set (SSE2 on x86-64).
    Generic,
    /// x86-64 with AVX2 (256-bit vectors), detected at run time.
    Avx2,
    /// x86-64 with AVX-512 F, VL and DQ, detected at run time: the AVX2 draw with the kernels in
    /// their 512-bit versions.
    Avx512,
}

impl Isa {
    /// Every version, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Generic, Isa::Avx2, Isa::Avx512];

    /// The widest version this processor runs (detected once).
    pub fn widest() -> Isa {
        static WIDEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *WIDEST.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let avx512 = std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq");
                return if avx512 { Isa::Avx512 } else { Isa::Avx2 };
            }
            Isa::Generic
        })
    }

    /// Whether this processor can run the version (the kernels ask on every call: one load).
    #[inline]
    pub fn available(self) -> bool {
        self <= Isa::widest()
    }

    /// The versions this processor runs, narrowest first.
    pub fn available_versions() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|v| v.available())
    }

    /// The version a user asked for by name (`generic`, `avx2`, anything else: the widest),
    /// limited to what the processor runs: `MINXINAN_ISA`'s meaning, which the command line
    /// reads and passes here.
    pub fn chosen(wanted: Option<&str>) -> Isa {
        match wanted.map(str::to_ascii_lowercase).as_deref() {
            Some("generic") => Isa::Generic,
            Some("avx2") if Isa::Avx2.available() => Isa::Avx2,
            _ => Isa::widest(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_version_is_one_the_processor_runs() {
        assert_eq!(Isa::chosen(Some("generic")), Isa::Generic);
        assert_eq!(Isa::chosen(Some("GENERIC")), Isa::Generic);
        assert_eq!(Isa::chosen(None), Isa::widest());
        assert_eq!(Isa::chosen(Some("anything")), Isa::widest());
        let avx2 = Isa::chosen(Some("avx2"));
        assert_eq!(avx2, if Isa::Avx2.available() { Isa::Avx2 } else { Isa::widest() });
        assert!(avx2.available() && Isa::Generic.available());
        assert_eq!(Isa::available_versions().last(), Some(Isa::widest()));
    }
}
