import time

import pytest

pytest.importorskip("dask_jobqueue")

import sweepml  # noqa: E402
from sweepml.exceptions import InvalidParameterError, SweepmlError  # noqa: E402
from sweepml.execution.hpc import (  # noqa: E402
    WalltimeGuard,
    batch_cluster,
    job_script,
    parse_walltime,
)


def test_slurm_and_pbs_job_scripts_render_without_a_batch_system():
    slurm = job_script("slurm", cores=8, memory="16GB", walltime="02:00:00", queue="compute",
                       account="proj7", job_extra=["--gres=gpu:1"])  # fmt: skip
    for line in ("#SBATCH -p compute", "#SBATCH -A proj7", "#SBATCH --cpus-per-task=8",
                 "#SBATCH -t 02:00:00", "#SBATCH --gres=gpu:1", "--nworkers 8",
                 "--nthreads 1"):  # fmt: skip
        assert line in slurm
    pbs = job_script("pbs", cores=4, memory="8GB", walltime="01:00:00", queue="workq")
    for line in ("#PBS -q workq", "#PBS -l select=1:ncpus=4", "#PBS -l walltime=01:00:00"):
        assert line in pbs


def test_a_missing_batch_command_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no qsub here
    with pytest.raises(SweepmlError, match="'sbatch' is not on this machine's PATH"):
        batch_cluster("slurm", jobs=2, cores=4, memory="8GB", walltime="01:00:00")
    with pytest.raises(SweepmlError, match="'qsub' is not on this machine's PATH"):
        batch_cluster("pbs", jobs=2, cores=4, memory="8GB", walltime="01:00:00")
    with pytest.raises(InvalidParameterError, match="must be one of \\['pbs', 'slurm'\\]"):
        batch_cluster("lsf", jobs=2, cores=4, memory="8GB", walltime="01:00:00")


def test_walltimes_parse_and_bad_ones_are_named():
    assert [parse_walltime(w) for w in ("1-02:00:00", "02:00:00", "30:00", "45")] == [
        93600.0, 7200.0, 1800.0, 45.0]  # fmt: skip
    with pytest.raises(InvalidParameterError, match="must look like HH:MM:SS"):
        parse_walltime("two hours")


def test_the_walltime_guard_stops_a_search_that_the_next_job_resumes(tmp_path, monkeypatch):
    def objective(config):
        time.sleep(0.05)
        return config["x"]

    space = {"x": sweepml.Float(0, 1)}
    guard = WalltimeGuard(end_time=time.time() + 0.6, margin=0.3)
    study = sweepml.minimize(objective, space, n_trials=1000, storage=tmp_path / "s.db",
                             callbacks=[guard], seed=0, show_progress=False)  # fmt: skip
    first = len(study.trials)
    assert 0 < first < 1000
    monkeypatch.setenv("SLURM_JOB_END_TIME", str(int(time.time()) + 3600))
    study = sweepml.minimize(objective, space, n_trials=first + 5, storage=tmp_path / "s.db",
                             callbacks=[WalltimeGuard(margin=60)], seed=0,
                             show_progress=False)  # fmt: skip
    assert study.status_counts() == {"OK": first + 5}
    monkeypatch.delenv("SLURM_JOB_END_TIME")
    with pytest.raises(InvalidParameterError, match="needs walltime= or end_time="):
        WalltimeGuard()


def test_a_batch_cluster_leaves_ctrl_c_a_keyboard_interrupt(run_python):
    """dask_jobqueue makes SIGINT call sys.exit() when imported; a search's Ctrl-C must stay a
    KeyboardInterrupt (stop, keep finished trials, exit code 130 from the CLI)."""
    done = run_python(
        "import signal\n"
        "from sweepml.execution.hpc import _cluster_class\n"
        "_cluster_class('slurm')\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )
    assert done.stdout.strip() == "True"
