"""`TrainingState`: a model's weights and its optimizer's state, copied to put back.

Used where a run must start over from exactly the state it had: a resume
whose backup fails to load halfway (`RunBackup`), and the throughput
calibration of a time-budgeted run (`keras_nlg.training.budget`).
"""


class TrainingState:
    """The values of `model`'s variables and its optimizer's (slots and
    iteration count), taken when made; `restore()` assigns them back."""

    def __init__(self, model):
        variables = list(model.variables)
        if model.optimizer is not None:
            seen = {id(v) for v in variables}
            variables += [v for v in model.optimizer.variables if id(v) not in seen]
        self._variables = variables
        self._values = [v.numpy() for v in variables]

    def restore(self) -> None:
        for variable, value in zip(self._variables, self._values, strict=True):
            variable.assign(value)
