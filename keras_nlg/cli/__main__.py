"""`python -m keras_nlg.cli`: the same as the `keras-nlg` console script."""

import sys

from keras_nlg.cli import main

sys.exit(main())
