"""Only one thing pyproject.toml cannot say: a built wheel carries the catalogue, the
rules and their test cases inside the package (``engine/_rules``), so that an installed
``lifeevents`` recommends without a checkout (engine/language/rulesroot.py finds them there).
In a checkout, and in an editable install, they are read where they are."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA = ("catalog.yaml", "rules", "tests/cases")


class BuildWithRules(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "engine" / "_rules"
        for name in DATA:
            source = HERE / name
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*.yaml") if p.is_file())
            for path in files:
                out = target / path.relative_to(HERE)
                out.parent.mkdir(parents=True, exist_ok=True)
                self.copy_file(str(path), str(out))


setup(cmdclass={"build_py": BuildWithRules})
