"""Preference losses: DPO on (chosen, rejected) pairs and a KTO-style loss on unpaired negatives.

Both measure an output by its log-ratio r = log pi(y|x) - log pi_ref(y|x), where the reference is the
model with the new micro-adapter switched off: the base with the serving adapter folded in, i.e. the
model that serves now. The Shadow Ledger's entries without a correction are outputs judged wrong
with nothing better to prefer: an unpaired undesirable example. KTO (Ethayarajh et al., 2024) scores
one with lambda_U * (1 - sigmoid(beta * (z_ref - r))); here the reference point z_ref is 0 instead of
the batch's KL estimate, which keeps the loss bounded (it saturates once the output is beta-units
less likely than the serving model had it) without needing mismatched pairs to estimate the KL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F

from .data import DpoExample, NegativeExample

EVAL_ROWS = 64


def _pad(seqs: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out.to(device)


def token_logprobs(model: Any, seqs: Sequence[Sequence[int]]) -> torch.Tensor:
    """[B, T-1]: log p(tokens[t+1] | tokens[:t+1]) for every position (padding included)."""
    tokens = _pad(seqs, model.device)
    logp = F.log_softmax(model.logits(tokens)[:, :-1].float(), dim=-1)
    return logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)


def response_logprob(model: Any, prompts: Sequence[list[int]], responses: Sequence[list[int]]) -> torch.Tensor:
    """[B]: sum of log p(response | prompt) over the response tokens."""
    seqs = [p + r for p, r in zip(prompts, responses)]
    lp = token_logprobs(model, seqs)
    mask = torch.zeros_like(lp)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        # target index t predicts token t+1: the response occupies tokens len(p) .. len(p)+len(r)-1
        mask[i, len(p) - 1 : len(p) - 1 + len(r)] = 1.0
    return (lp * mask).sum(-1)


def _log_ratio(model: Any, prompts: Sequence[list[int]], responses: Sequence[list[int]]) -> torch.Tensor:
    with torch.no_grad(), model.lora_disabled():
        ref = response_logprob(model, prompts, responses)
    return response_logprob(model, prompts, responses) - ref


@dataclass
class DpoOut:
    loss: torch.Tensor
    margin: float  # mean of (log pi/ref on chosen) - (log pi/ref on rejected), in nats
    accuracy: float  # share of pairs whose margin is positive


def dpo_loss(model: Any, batch: Sequence[DpoExample], beta: float) -> DpoOut:
    prompts = [ex.prompt for ex in batch]
    margin = _log_ratio(model, prompts, [ex.chosen for ex in batch]) - _log_ratio(model, prompts, [ex.rejected for ex in batch])
    loss = -F.logsigmoid(beta * margin).mean()
    return DpoOut(loss, float(margin.detach().mean()), float((margin.detach() > 0).float().mean()))


def kto_loss(model: Any, batch: Sequence[NegativeExample], beta: float) -> torch.Tensor:
    """Mean over the unpaired negatives of 1 - sigmoid(-beta * r) = sigmoid(beta * r)."""
    r = _log_ratio(model, [ex.prompt for ex in batch], [ex.rejected for ex in batch])
    return torch.sigmoid(beta * r).mean()


def preference_batches(pairs: int, negatives: int, batch: int) -> tuple[int, int]:
    """Rows of each kind per step: the batch split by the sets' sizes, at least one of a non-empty set."""
    if not negatives:
        return batch, 0
    if not pairs:
        return 0, batch
    n_neg = min(batch - 1, max(1, round(batch * negatives / (pairs + negatives))))
    return batch - n_neg, n_neg


def _chunks(rows: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), n):
        yield rows[i : i + n]


@torch.no_grad()
def eval_dpo(model: Any, rows: Sequence[DpoExample], beta: float, batch: int) -> dict[str, float] | None:
    rows = rows[:EVAL_ROWS]
    if not rows:
        return None
    margins, accs, losses = [], [], []
    for chunk in _chunks(rows, batch):
        out = dpo_loss(model, chunk, beta)
        margins.append(out.margin * len(chunk))
        accs.append(out.accuracy * len(chunk))
        losses.append(float(out.loss) * len(chunk))
    n = len(rows)
    return {"margin": sum(margins) / n, "accuracy": sum(accs) / n, "loss": sum(losses) / n}


@torch.no_grad()
def eval_heldout_pairs(model: Any, rows: Sequence[DpoExample], batch: int) -> dict[str, float] | None:
    """Held-out pairs under the model as it is: mean log-probability (nats, summed over the response)
    of the chosen and of the rejected outputs, their margin, and the share of pairs that prefer chosen."""
    rows = rows[:EVAL_ROWS]
    if not rows:
        return None
    chosen, rejected = [], []
    for chunk in _chunks(rows, batch):
        prompts = [ex.prompt for ex in chunk]
        chosen += response_logprob(model, prompts, [ex.chosen for ex in chunk]).tolist()
        rejected += response_logprob(model, prompts, [ex.rejected for ex in chunk]).tolist()
    n = len(rows)
    return {"pairs": n, "chosen_logp": sum(chosen) / n, "rejected_logp": sum(rejected) / n,
            "margin": (sum(chosen) - sum(rejected)) / n, "accuracy": sum(c > r for c, r in zip(chosen, rejected)) / n}
