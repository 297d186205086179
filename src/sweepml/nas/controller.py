"""A policy-gradient controller (Zoph & Le 2017): an LSTM that emits a config decision by decision.

At each step the LSTM reads the embedding of the previous decision and a softmax head of that
parameter's options picks the next one, so later decisions are conditioned on earlier ones (layer
3's filter size on layer 2's). Results train it with REINFORCE: the log-probability of the emitted
decisions is scaled by the advantage (reward minus a moving-average baseline, divided by the
standard deviation of the rewards so far, so any loss scale works), plus an entropy bonus that
keeps it exploring. Logits pass through ``tanh_constant * tanh(logits / temperature)`` as in ENAS
(Pham et al. 2018), which bounds how sure the controller can become.

It searches any space of ``Choice`` parameters (conditional ones too: a parameter is decided only
when active; ``Const`` values are filled in). Several asks may be outstanding: a result told late
is scored under the controller's current weights (asynchronous workers, as in the original).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from sweepml._validation import check_float, check_int, param_error
from sweepml.exceptions import InvalidParameterError
from sweepml.space import Choice, Const, Space
from sweepml.strategies.base import Outcome, Strategy, Suggestion, register_strategy
from sweepml.trial import TrialStatus

__all__ = ["Reinforce"]

#: endings that blame the architecture (it could not be built, or was too big or too slow)
_ARCHITECTURE_FAULTS = frozenset({TrialStatus.FAILED, TrialStatus.MEMOUT, TrialStatus.TIMEOUT})


class _Policy(nn.Module):
    def __init__(self, sizes: list[int], hidden: int) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embeddings = nn.ModuleList(nn.Embedding(size, hidden) for size in sizes)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, size) for size in sizes)


@register_strategy("reinforce")
class Reinforce(Strategy):
    """REINFORCE-trained LSTM controller over a categorical space.

    Args:
        hidden: LSTM units (Zoph & Le used 35 per layer).
        learning_rate: Adam's step size; higher than the papers' because our searches train
            hundreds of children, not tens of thousands.
        entropy_weight: weight of the entropy bonus.
        baseline_decay: decay of the moving-average reward baseline.
        temperature, tanh_constant: logit squashing (``None`` for plain logits).

    Example:
        >>> Reinforce(learning_rate=0.01)  # doctest: +ELLIPSIS
        Reinforce(hidden=64, learning_rate=0.01, entropy_weight=0.01, ...)
    """

    def __init__(
        self,
        *,
        hidden: int = 64,
        learning_rate: float = 5e-3,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
        temperature: float = 5.0,
        tanh_constant: float | None = 2.5,
    ) -> None:
        super().__init__()
        owner = "Reinforce"
        self.hidden = check_int(owner, "hidden", hidden, minimum=1)
        self.learning_rate = check_float(
            owner, "learning_rate", learning_rate, minimum=0.0, exclusive_minimum=True
        )
        self.entropy_weight = check_float(owner, "entropy_weight", entropy_weight, minimum=0.0)
        self.baseline_decay = check_float(owner, "baseline_decay", baseline_decay, minimum=0.0)
        if self.baseline_decay >= 1.0:
            raise param_error(owner, "baseline_decay", "a float in [0, 1)", baseline_decay)
        self.temperature = check_float(
            owner, "temperature", temperature, minimum=0.0, exclusive_minimum=True
        )
        self.tanh_constant = (
            None
            if tanh_constant is None
            else check_float(
                owner, "tanh_constant", tanh_constant, minimum=0.0, exclusive_minimum=True
            )
        )

    # -- setup ------------------------------------------------------------------------------
    def _setup(self, space: Space) -> None:
        self._decisions: list[tuple[str, Choice]] = []
        self._constants: dict[str, Any] = {}
        for name, param in space.all_params.items():
            if isinstance(param, Const):
                self._constants[name] = param.value
            elif isinstance(param, Choice):
                self._decisions.append((name, param))
            else:
                raise InvalidParameterError(
                    f"The 'reinforce' strategy searches categorical spaces (Choice and Const "
                    f"parameters); {name!r} is {param!r}. Make it a Choice of values or use "
                    f"'evolution' or 'tpe'."
                )
        self._conditional = any(param.conditional for _, param in self._decisions)
        # weights from the seed alone, without touching the global torch generator
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.rng.integers(2**31)))
            self._policy = _Policy([len(p.options) for _, p in self._decisions], self.hidden)
        self._optimizer = torch.optim.Adam(self._policy.parameters(), lr=self.learning_rate)
        self._baseline: float | None = None
        self._n_rewards = 0
        self._reward_mean = 0.0
        self._reward_m2 = 0.0
        self._worst: float | None = None

    # -- the policy -------------------------------------------------------------------------
    def _logits(self, head: nn.Module, state: torch.Tensor) -> torch.Tensor:
        logits = head(state)[0]
        if self.tanh_constant is not None:
            return self.tanh_constant * torch.tanh(logits / self.temperature)
        return logits / self.temperature

    def _walk(
        self, pick: Callable[[str, Choice, torch.Tensor], int | None]
    ) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
        """Step the LSTM through the active decisions; ``pick(name, param, log_probs)`` chooses
        each option's index (None skips the decision). Returns the config and the sums of the
        chosen decisions' log-probabilities and of the entropies."""
        policy = self._policy
        config: dict[str, Any] = dict(self._constants)
        state = (policy.start, torch.zeros_like(policy.start))
        inputs = policy.start
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        for position, (name, param) in enumerate(self._decisions):
            if self._conditional and name not in {n for n, _ in self.space.active(config)}:
                continue
            state = policy.cell(inputs, state)
            log_probs = torch.log_softmax(self._logits(policy.heads[position], state[0]), dim=-1)
            index = pick(name, param, log_probs)
            if index is None:
                continue
            config[name] = param.values[index]
            log_prob = log_prob + log_probs[index]
            entropy = entropy - (log_probs.exp() * log_probs).sum()
            inputs = policy.embeddings[position](torch.tensor([index]))
        return config, log_prob, entropy

    def _sample(self, name: str, param: Choice, log_probs: torch.Tensor) -> int:
        probs = np.exp(log_probs.detach().double().numpy())
        return int(self.rng.choice(len(probs), p=probs / probs.sum()))

    # -- ask / tell -------------------------------------------------------------------------
    def _ask(self) -> Suggestion:
        with torch.no_grad():
            config, _, _ = self._walk(self._sample)
        return self._suggest(config)

    def _tell(self, suggestion: Suggestion, outcome: Outcome) -> None:
        if outcome.ok:
            assert outcome.loss is not None
            reward = -float(outcome.loss)
            self._worst = reward if self._worst is None else min(self._worst, reward)
        elif outcome.status in _ARCHITECTURE_FAULTS and self._worst is not None:
            reward = self._worst  # unbuildable or too big: as bad as the worst result so far
        else:
            return  # crashed, interrupted or lost: says nothing about the architecture
        self._learn(dict(suggestion.config), reward)

    def _learn(self, config: dict[str, Any], reward: float) -> None:
        self._n_rewards += 1
        delta = reward - self._reward_mean
        self._reward_mean += delta / self._n_rewards
        self._reward_m2 += delta * (reward - self._reward_mean)
        if self._baseline is None:
            self._baseline = reward
        spread = math.sqrt(self._reward_m2 / self._n_rewards)
        advantage = (reward - self._baseline) / spread if spread > 0 else 0.0
        self._baseline = self.baseline_decay * self._baseline + (1 - self.baseline_decay) * reward
        # a value outside the options (a config from elsewhere, e.g. a warm start) is skipped
        _, log_prob, entropy = self._walk(lambda name, param, _: param.index(config.get(name)))
        loss = -advantage * log_prob - self.entropy_weight * entropy
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()

    def probabilities(self) -> dict[str, list[float]]:
        """Each decision's option probabilities along the controller's most likely path: what
        it has learned, for inspection."""
        out: dict[str, list[float]] = {}

        def most_likely(name: str, param: Choice, log_probs: torch.Tensor) -> int:
            out[name] = [float(p) for p in log_probs.exp()]
            return int(log_probs.argmax())

        with torch.no_grad():
            self._walk(most_likely)
        return out
