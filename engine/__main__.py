from engine.interfaces.cli import run

run()
