"""`TrainingState`: a model's weights and its optimizer's state, copied to put back.

Used where a run must start over from exactly the state it had: a resume
whose backup fails to load halfway (`RunBackup`), and the throughput
calibration of a time-budgeted run (`keras_nlg.training.budget`).
"""


class TrainingState:
    """The values of `model`'s variables and its optimizers' (slots and
    iteration counts: `model.optimizer` and any in `model.extra_optimizers`,
    e.g. an adversarial trainer's discriminator optimizer), taken when made;
    `restore()` assigns them back."""

    def __init__(self, model):
        variables = list(model.variables)
        optimizers = [model.optimizer, *getattr(model, "extra_optimizers", ())]
        seen = {id(v) for v in variables}
        for optimizer in optimizers:
            if optimizer is None:
                continue
            for variable in optimizer.variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    variables.append(variable)
        self._variables = variables
        self._values = [v.numpy() for v in variables]

    def restore(self) -> None:
        for variable, value in zip(self._variables, self._values, strict=True):
            variable.assign(value)
