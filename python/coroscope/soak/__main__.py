from coroscope._cli import run_main
from coroscope.soak.cli import main

run_main("python -m coroscope.soak", main)
