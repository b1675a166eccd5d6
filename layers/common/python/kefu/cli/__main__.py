"""python -m kefu.cli customers import FILE --shop demo [--api URL] [--map col=field ...]"""

import sys

from kefu.cli.main import main

sys.exit(main())
