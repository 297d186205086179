"""Tune on a SLURM cluster: worker jobs through dask-jobqueue, the driver on the login node.

    pip install 'sweepml[hpc]'
    python examples/hpc_slurm.py            # submits 4 worker jobs of 32 cores each

Run the same command again after an interruption: the SQLite record resumes the search. For PBS,
use batch_cluster("pbs", ...). To see the job script without submitting anything:

    python -c "from sweepml.execution.hpc import job_script; \\
               print(job_script('slurm', cores=32, memory='64GB', walltime='04:00:00'))"
"""

from distributed import Client

import sweepml
from sweepml.execution.hpc import WalltimeGuard, batch_cluster
from sweepml.testing.objectives import slow_sphere

if __name__ == "__main__":
    cluster = batch_cluster(
        "slurm", jobs=4, cores=32, memory="64GB", walltime="04:00:00", queue="compute"
    )
    with Client(cluster) as client:
        client.wait_for_workers(1, timeout=3600)  # the first job may wait in the queue
        study = sweepml.minimize(
            slow_sphere,  # your objective: a module-level function the workers can import
            {"x": sweepml.Float(-5, 5), "y": sweepml.Float(-5, 5), "sleep": [1.0]},
            strategy="tpe",
            n_trials=2000,
            cluster=client,
            trial_timeout=600,
            storage="slurm_search.db",
            callbacks=[WalltimeGuard(walltime="12:00:00", margin=900)],  # the driver's own job
        )
    print(study.best.config, study.best.value)
