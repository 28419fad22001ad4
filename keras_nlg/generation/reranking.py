"""Reranking a beam's candidates by a cost the model doesn't see.

Beam search ranks hypotheses by the model's own score; a task may know
better. For data-to-text, the beam often holds a candidate that states every
slot of the MR while the top one drops one: TGen's reranker (Dušek &
Jurčíček 2016, "TGen+" in the E2E challenge) keeps the candidate with the
fewest slot errors, ties broken by model score. `generate_reranked` is that
hook for any cost: the beam's `num_beams` candidates come back from
`generate` best-first, and the cheapest wins (the first of equals, so the
model score breaks ties).
"""

from collections.abc import Callable

from keras_nlg.generation.config import resolve_generation_config
from keras_nlg.generation.generate import generate


def generate_reranked(
    model,
    tokenizer,
    prompts: list[str],
    cost: Callable[[int, str], float],
    generation_config=None,
    *,
    truncate: bool = True,
    **overrides,
) -> list[str]:
    """One text per prompt: the least-`cost` of the beam's candidates.

    Args:
        model, tokenizer, generation_config, truncate, **overrides: as
            `generate`;
            `num_beams` must be at least 2 (the candidates), and
            `num_return_sequences` is set to it.
        prompts: a list of strings.
        cost: `cost(prompt_index, text)` → a number, lower is better (for
            E2E, the text's slot errors against the prompt's MR).

    Returns:
        `len(prompts)` strings.

    Raises:
        ValueError: for `num_beams` < 2 (nothing to rerank), and whatever
            `generate` raises.
    """
    config = resolve_generation_config(model, generation_config, overrides)
    if config.num_beams < 2:
        raise ValueError(
            "Reranking needs beam search's candidates: `num_beams` must be at "
            f"least 2. Received: num_beams={config.num_beams}"
        )
    config = config.replace(num_return_sequences=config.num_beams)
    candidates = generate(model, tokenizer, prompts, config, truncate=truncate)
    beams = config.num_beams
    chosen = []
    for index in range(len(prompts)):
        group = candidates[index * beams : (index + 1) * beams]
        costs = [cost(index, text) for text in group]
        chosen.append(group[costs.index(min(costs))])
    return chosen
