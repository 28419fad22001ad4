"""`python -m keras_nlg.cli`: the same as the `keras-nlg` console script."""

from keras_nlg.cli import run_and_exit

run_and_exit()
