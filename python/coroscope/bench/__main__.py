from coroscope._cli import run_main
from coroscope.bench.cli import main

run_main("python -m coroscope.bench", main)
