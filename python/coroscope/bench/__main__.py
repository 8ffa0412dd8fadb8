import sys

from coroscope.bench.cli import main

sys.exit(main())
