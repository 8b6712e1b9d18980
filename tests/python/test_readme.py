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
    for need in ("make", "python3", "numpy", "pytest", "redis-server", "nvcc", "JDK 25"):
        assert need in text.split("## Configuration")[0], f"the README's first part does not say ./test.sh needs {need}"
