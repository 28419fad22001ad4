"""`keras-nlg serve`: the TF-Serving-protocol development server.

The flags are TF Serving's own names and defaults, so its command lines work
unchanged. Which flags combine is checked here; the config files are read
by the serving library.
"""

import logging
import math
import os

from keras_nlg.cli.common import flag_bool, given, positive_int

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    serve = subparsers.add_parser(
        "serve",
        help="serve SavedModels over TF Serving's gRPC and REST protocol "
        "(development and CI; production uses TF Serving itself)",
    )
    serve.add_argument("--port", type=int, default=8500, help="gRPC port (0: free)")
    serve.add_argument(
        "--rest_api_port", type=int, default=-1, help="REST port (0: free, -1: off)"
    )
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--model_name", default="default")
    serve.add_argument("--model_base_path")
    serve.add_argument("--model_config_file")
    serve.add_argument(
        "--enable_batching", type=flag_bool, nargs="?", const=True, default=False
    )
    serve.add_argument("--batching_parameters_file")
    serve.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0)
    serve.add_argument("--monitoring_config_file")
    serve.add_argument(
        "--rest_api_timeout_in_ms",
        type=positive_int,
        default=30000,
        help="REST: a request body not received within this time gets 408",
    )
    serve.add_argument(
        "--max_request_bytes",
        type=positive_int,
        help="larger requests get RESOURCE_EXHAUSTED (default 4 MiB)",
    )
    serve.add_argument(
        "--max_warmup_seconds",
        type=float,
        help="serve a new version once its warm-up has run this long, the rest "
        "of the warm-up going on beside the traffic (default: wait for all of "
        "it, as TF Serving does)",
    )
    serve.add_argument(
        "--xla_cache_dir",
        help="where compiled XLA executables are kept, so a restarted server "
        "loads its warm-up compiles instead of redoing them ('' = off; default: "
        f"the cache TF_XLA_FLAGS names, else {default_xla_cache_dir()})",
    )
    serve.set_defaults(before_tensorflow=before_tensorflow)
    return serve


def before_tensorflow(args):
    """Checks the flags, then sets up the XLA cache: before TensorFlow starts,
    which reads its XLA flags once, and before anything binds."""
    _check_flags(args)
    use_xla_cache(args.xla_cache_dir)


def default_xla_cache_dir():
    """`$XDG_CACHE_HOME/keras_nlg/xla`, else `~/.cache/keras_nlg/xla`."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(root, "keras_nlg", "xla")


def use_xla_cache(directory):
    """Points TensorFlow's persistent XLA compilation cache at `directory`.

    A version's warm-up compiles every (rows, prompt length) bucket of the
    decode loop, about 2.4 s each on a small CPU (39 s for the tiny model's
    16). With the cache, a restarted server (or a second one on the
    machine) loads them instead (benchmarks/RESULTS.md, "Serving"). It does
    not help a new version loaded into a running server: TensorFlow gives
    the new version's functions new names, and the name is part of the key.
    TensorFlow reads `TF_XLA_FLAGS` when its runtime starts, so this must
    run before the first TensorFlow op of the process.

    Args:
        directory: the cache directory, replacing one `TF_XLA_FLAGS` may
            already name; `''` turns the cache off (also one named there);
            None keeps a cache `TF_XLA_FLAGS` names, else uses
            `default_xla_cache_dir()`.

    Raises:
        ValueError: if a given `directory` can't be created (the default
            directory only gives a warning).
    """
    flags = os.environ.get("TF_XLA_FLAGS", "").split()
    others = [f for f in flags if not f.startswith("--" + _CACHE_FLAG)]
    if directory is None:
        if len(others) < len(flags):
            return  # the environment's own choice
        directory = default_xla_cache_dir()
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            logger.warning("No XLA compilation cache (%s): %s", directory, error)
            return
    elif directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            raise ValueError(
                f"--xla_cache_dir can't be created: {error}. Received: {directory!r}"
            ) from None
    if directory:
        others.append(f"--{_CACHE_FLAG}={directory}")
    os.environ["TF_XLA_FLAGS"] = " ".join(others)


_CACHE_FLAG = "tf_xla_persistent_cache_directory"


def _check_flags(args):
    """Every flag's range, before anything is read or bound."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535]. Received: {args.port}")
    if not -1 <= args.rest_api_port <= 65535:
        raise ValueError(
            "--rest_api_port must be in [0, 65535], or -1 for no REST API. "
            f"Received: {args.rest_api_port}"
        )
    poll = args.file_system_poll_wait_seconds
    if not math.isfinite(poll):  # nan would silently turn polling off
        raise ValueError(
            "--file_system_poll_wait_seconds must be a finite number (0: poll "
            f"once, negative: never). Received: {poll}"
        )
    bound = args.max_warmup_seconds
    if bound is not None and not (math.isfinite(bound) and bound >= 0):
        raise ValueError(
            f"--max_warmup_seconds must be a finite number >= 0. Received: {bound}"
        )


def run(args):
    if bool(args.model_config_file) == bool(args.model_base_path):
        raise ValueError(
            "Pass --model_config_file, or --model_name with --model_base_path. "
            f"Received: model_config_file={args.model_config_file!r}, "
            f"model_base_path={args.model_base_path!r}"
        )
    if args.batching_parameters_file and not args.enable_batching:
        raise ValueError(
            "--batching_parameters_file needs --enable_batching. "
            f"Received: batching_parameters_file={args.batching_parameters_file!r}"
        )
    from keras_nlg.serving.batching import BatchingParameters
    from keras_nlg.serving.model_config import ModelConfig
    from keras_nlg.serving.model_manager import ModelManager
    from keras_nlg.serving.monitoring import prometheus_path
    from keras_nlg.serving.server import run_server

    if args.model_config_file:
        configs = ModelConfig.from_file(args.model_config_file)
    else:
        configs = [ModelConfig(args.model_name, args.model_base_path)]
    for config in configs:
        if not os.path.isdir(config.base_path):
            raise ValueError(
                f"The base path of model {config.name!r} is not a directory. "
                f"Received: base_path={config.base_path!r}"
            )
    batching = None
    if args.enable_batching:
        batching = BatchingParameters()
        if args.batching_parameters_file:
            batching = BatchingParameters.from_file(args.batching_parameters_file)
    run_server(
        ModelManager(configs, max_warmup_seconds=args.max_warmup_seconds),
        port=args.port,
        rest_api_port=args.rest_api_port,
        host=args.host,
        batching=batching,
        poll_seconds=args.file_system_poll_wait_seconds,
        prometheus_path=(
            prometheus_path(args.monitoring_config_file)
            if args.monitoring_config_file
            else None
        ),
        rest_api_timeout_seconds=args.rest_api_timeout_in_ms / 1000,
        **given(max_request_bytes=args.max_request_bytes),
    )
