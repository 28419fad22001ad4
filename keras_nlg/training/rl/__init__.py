"""Beyond likelihood: RL fine-tuning with rewards users define (RLOO with a KL
penalty, optional PPO clipping) and preference tuning (DPO).

- `objectives`: RLOO advantages, the policy loss, the DPO loss (the math).
- `rewards`: the reward contract, built-in rewards, `"name:weight"` specs.
- `rollouts`: k samples per prompt from the compiled generator, packed.
- `rloo`: `RLOOTrainer`, a `keras.Model` whose `train_step` samples.
- `finetune`: `rl_finetune()`, model directory in, model directory out.
- `dpo`: `dpo()` on (prompt, chosen, rejected) pairs.
- `run`: what both share: the optimizer, `fit` with backups, TensorBoard and
  a time limit, and saving the tuned model directory.
- `config`: `RLConfig`, every setting checked once.
"""

from keras_nlg.training.rl.config import RLConfig
from keras_nlg.training.rl.dpo import dpo, read_pairs
from keras_nlg.training.rl.finetune import rl_finetune
from keras_nlg.training.rl.objectives import (
    dpo_loss,
    kl_penalized_rewards,
    leave_one_out_advantages,
    policy_loss,
    token_log_probs,
)
from keras_nlg.training.rl.rewards import (
    REWARDS,
    ClassifierReward,
    LengthWindow,
    WeightedSum,
    WordList,
    check_rewards,
    parse_rewards,
)
from keras_nlg.training.rl.rloo import RLOOTrainer

__all__ = [
    "REWARDS",
    "ClassifierReward",
    "LengthWindow",
    "RLConfig",
    "RLOOTrainer",
    "WeightedSum",
    "WordList",
    "check_rewards",
    "dpo",
    "dpo_loss",
    "kl_penalized_rewards",
    "leave_one_out_advantages",
    "parse_rewards",
    "policy_loss",
    "read_pairs",
    "rl_finetune",
    "token_log_probs",
]
