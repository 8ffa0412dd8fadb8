import sys

from coroscope.soak.cli import main

sys.exit(main())
