"""The README's recipes as a newcomer pastes them into a fresh shell: checked here so they stay true."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def bash_blocks():
    return re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)


def test_every_recipe_sets_java_home_before_it_runs_maven():
    # Maven started with the default Java (17 here) fails on the project's --release 25.
    for block in bash_blocks():
        lines = [line.strip() for line in block.splitlines()]
        maven = next((i for i, line in enumerate(lines) if re.match(r"(.*&&\s*)?mvn\b", line)), None)
        if maven is None:
            continue
        java_home = next((i for i, line in enumerate(lines) if line.startswith("export JAVA_HOME=")), None)
        assert java_home is not None and java_home < maven, f"this recipe runs mvn before JAVA_HOME is set:\n{block}"


def test_the_test_script_lists_what_it_needs():
    text = README.read_text()
    for need in ("make", "python3", "numpy", "pytest", "redis-server", "python3-prometheus-client", "nvcc", "JDK 25"):
        assert need in text.split("## Configuration")[0], f"the README's first part does not say ./test.sh needs {need}"


def test_the_sample_replay_output_has_the_lines_a_run_prints():
    import subprocess

    root = README.parent
    sample = re.search(r"```\n(LMCache4j replay: .*?)```", README.read_text(), re.S).group(1)
    run = subprocess.run([str(root / "lmcache4j"), "replay", "--users", "2", "--rounds", "2", "--layers", "2",
                          "--kv-heads", "2", "--head-size", "64", "--cpu-gb", "0.25"],
                         capture_output=True, text=True, timeout=300, cwd=root)
    assert run.returncode == 0, run.stderr[-2000:]

    def labels(text):
        return [re.split(r"\s{2,}", line.strip())[0] for line in text.splitlines() if line.startswith("  ")]

    assert labels(sample) == labels(run.stdout), f"the README's sample differs from what a run prints:\n{run.stdout}"
    assert "GiB" in run.stdout and " GB" not in run.stdout, "the replay mixes units"
