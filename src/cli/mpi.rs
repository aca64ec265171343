//! `mpirun -np R minxinan run …` (the `mpi` feature; docs/CLUSTER.md): the ranks of the MPI job
//! as a [`Collective`] for [`minxinan::runner::distributed`]. Integer counts are all-reduced;
//! floating-point sums go to rank 0 a rank at a time and candidate keys are gathered there
//! (never all-reduced, whose order the MPI library chooses).

use minxinan::runner::distributed::Collective;
use mpi::Count;
use mpi::collective::SystemOperation;
use mpi::datatype::{Equivalence, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// The MPI job this process is a rank of.
pub struct World {
    world: SimpleCommunicator,
    // Dropping it finalizes MPI: it lives as long as the command.
    _universe: mpi::environment::Universe,
}

impl World {
    /// MPI, when an MPI launcher started this process with more than one rank (`mpirun` sets
    /// `OMPI_COMM_WORLD_SIZE`, other launchers `PMI_SIZE`) or through PMIx (Slurm's
    /// `srun --mpi=pmix` sets `PMIX_RANK`; a job of one rank runs as rank 0 of 1, the same
    /// files); otherwise `None` and the run is a single process as without the feature.
    pub fn start() -> Option<World> {
        let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
            .iter()
            .filter_map(std::env::var_os)
            .any(|v| v.to_str().and_then(|s| s.parse::<u32>().ok()).is_some_and(|n| n > 1))
            || std::env::var_os("PMIX_RANK").is_some();
        if !launched {
            return None;
        }
        let universe = mpi::initialize()?;
        let world = universe.world();
        Some(World { world, _universe: universe })
    }

    /// End every rank of the job (after this rank printed why).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

/// Where each rank's values start in the gathered buffer: the counts' running sums.
fn displacements(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0, |at, &c| {
            let d = *at;
            *at += c;
            Some(d)
        })
        .collect()
}

/// Each rank's `v` to rank 0 (lengths first, then the values), in rank order.
fn gather<T: Equivalence + Default + Clone>(world: &SimpleCommunicator, v: &[T]) -> Option<Vec<Vec<T>>> {
    let root = world.process_at_rank(0);
    let n = Count::try_from(v.len()).expect("a rank's part fits an MPI count");
    if world.rank() != 0 {
        root.gather_into(&n);
        root.gather_varcount_into(v);
        return None;
    }
    let mut counts = vec![0 as Count; world.size() as usize];
    root.gather_into_root(&n, &mut counts[..]);
    let displs = displacements(&counts);
    let total: Count = counts.iter().sum();
    let mut buf = vec![T::default(); total as usize];
    {
        let mut partition = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
        root.gather_varcount_into_root(v, &mut partition);
    }
    Some(counts.iter().zip(&displs).map(|(&c, &d)| buf[d as usize..(d + c) as usize].to_vec()).collect())
}

impl Collective for World {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn all_reduce_sum(&self, v: &mut [u64]) {
        let send = v.to_vec();
        self.world.all_reduce_into(&send[..], v, SystemOperation::sum());
    }
    fn fold_f64(&self, v: &[f64], f: &mut dyn FnMut(&[f64])) {
        if self.world.rank() != 0 {
            self.world.process_at_rank(0).send(v);
            return;
        }
        f(v);
        for r in 1..self.world.size() {
            let (part, _) = self.world.process_at_rank(r).receive_vec::<f64>();
            f(&part);
        }
    }
    fn gather_i64(&self, v: &[i64]) -> Option<Vec<Vec<i64>>> {
        gather(&self.world, v)
    }
    fn all_gather_i64(&self, v: &[i64]) -> Vec<i64> {
        let n = Count::try_from(v.len()).expect("a rank's part fits an MPI count");
        let mut counts = vec![0 as Count; self.size()];
        self.world.all_gather_into(&n, &mut counts[..]);
        let displs = displacements(&counts);
        let total: Count = counts.iter().sum();
        let mut out = vec![0i64; total as usize];
        {
            let mut partition = PartitionMut::new(&mut out[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(v, &mut partition);
        }
        out
    }
}
