#!/usr/bin/env python3
"""Writes test/model/data/torch_reference.json: an independent PyTorch
computation of the recipe's network (small sizes) for test_model_reference.

The model, built from PyTorch's own layers in float64:
    tokens -> [token / V | embedding] -> nn.LSTM H1 (whole sequence)
    -> nn.LSTM H2 (last step) -> Dense D (no activation) -> Dense V
    -> mean cross-entropy (F.cross_entropy)
Dropout is off (p = 0): its masks come from our counter-based generator,
which PyTorch does not have; the finite-difference test covers dropout.

Layout mapping (nn.LSTM has the same gate order i, f, g, o as Keras):
    our lstmK.W [F, 4H] = weight_ih_l0.T
    our lstmK.R [H, 4H] = weight_hh_l0.T
    our lstmK.b [4H]    = bias_ih_l0   (bias_hh_l0 is held at zero)
    our denseK.W [in, out] = Linear.weight.T, denseK.b = Linear.bias
Parameters are drawn uniformly from [-0.5, 0.5] (biases included) so that
every term of every gradient is exercised.

The fixture stores, per case: the config, the parameters in our layout by
view name (row-major, flattened), tokens (time-major [T, N], flattened),
targets [N], and the expected logits [N, V], probabilities [N, V], mean loss
and gradient of every view. Values are float64, written with repr() so the
JSON round-trips them exactly.

How it was run (Debian bookworm, torch 1.13 from the python3-torch package):
    apt-get install -y python3-torch
    /usr/bin/python3 tools/make_torch_reference.py > test/model/data/torch_reference.json
The torch version and this command are also recorded in the fixture.
"""

import json
import sys

import torch
import torch.nn.functional as F

COMMAND = "/usr/bin/python3 tools/make_torch_reference.py > test/model/data/torch_reference.json"

CASES = [
    # name, input mode, V, T, N, H1, H2, D, embedding dim, seed
    dict(name="scalar", input="scalar", vocab=7, window=5, batch=3, hidden1=8, hidden2=4, dense=6,
         embedding_dim=0, seed=20240),
    dict(name="embedding", input="embedding", vocab=7, window=5, batch=3, hidden1=8, hidden2=4, dense=6,
         embedding_dim=3, seed=20241),
    # Batch and hidden sizes that are not multiples of anything convenient.
    dict(name="scalar_odd", input="scalar", vocab=11, window=6, batch=5, hidden1=9, hidden2=5, dense=7,
         embedding_dim=0, seed=20242),
]


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def make_case(c):
    g = torch.Generator().manual_seed(c["seed"])
    V, T, N = c["vocab"], c["window"], c["batch"]
    H1, H2, D = c["hidden1"], c["hidden2"], c["dense"]
    embedding = c["input"] == "embedding"
    Fin = c["embedding_dim"] if embedding else 1

    def uniform(*shape):
        return (torch.rand(*shape, generator=g, dtype=torch.float64) - 0.5)

    lstm1 = torch.nn.LSTM(Fin, H1).double()
    lstm2 = torch.nn.LSTM(H1, H2).double()
    dense1 = torch.nn.Linear(H2, D).double()
    dense2 = torch.nn.Linear(D, V).double()
    table = torch.nn.Parameter(uniform(V, Fin)) if embedding else None
    with torch.no_grad():
        for lstm, fin, h in ((lstm1, Fin, H1), (lstm2, H1, H2)):
            lstm.weight_ih_l0.copy_(uniform(fin, 4 * h).T)   # drawn in our [F, 4H] layout
            lstm.weight_hh_l0.copy_(uniform(h, 4 * h).T)
            lstm.bias_ih_l0.copy_(uniform(4 * h))
            lstm.bias_hh_l0.zero_()
        for dense, fin, fout in ((dense1, H2, D), (dense2, D, V)):
            dense.weight.copy_(uniform(fin, fout).T)
            dense.bias.copy_(uniform(fout))
    for lstm in (lstm1, lstm2):
        lstm.bias_hh_l0.requires_grad_(False)

    tokens = torch.randint(0, V, (T, N), generator=g)   # time-major
    targets = torch.randint(0, V, (N,), generator=g)

    if embedding:
        x = table[tokens]                                # [T, N, E]
    else:
        x = (tokens.double() / V).unsqueeze(-1)          # [T, N, 1]
    h1, _ = lstm1(x)                                     # zero initial state
    h2, _ = lstm2(h1)
    y1 = dense1(h2[-1])
    logits = dense2(y1)
    loss = F.cross_entropy(logits, targets)              # mean over the batch
    loss.backward()
    probs = torch.softmax(logits, dim=1)

    params, grads = {}, {}

    def put(name, value, grad):
        params[name] = flat(value)
        grads[name] = flat(grad)

    if embedding:
        put("embedding", table, table.grad)
    for k, lstm in ((1, lstm1), (2, lstm2)):
        put(f"lstm{k}.W", lstm.weight_ih_l0.T, lstm.weight_ih_l0.grad.T)
        put(f"lstm{k}.R", lstm.weight_hh_l0.T, lstm.weight_hh_l0.grad.T)
        put(f"lstm{k}.b", lstm.bias_ih_l0, lstm.bias_ih_l0.grad)
    for k, dense in ((1, dense1), (2, dense2)):
        put(f"dense{k}.W", dense.weight.T, dense.weight.grad.T)
        put(f"dense{k}.b", dense.bias, dense.bias.grad)

    config = {key: c[key] for key in ("vocab", "window", "batch", "hidden1", "hidden2", "dense", "input")}
    if embedding:
        config["embedding_dim"] = c["embedding_dim"]
    return {
        "name": c["name"],
        "config": config,
        "tokens": [int(t) for t in tokens.reshape(-1).tolist()],
        "targets": [int(t) for t in targets.tolist()],
        "parameters": params,
        "logits": flat(logits),
        "probs": flat(probs),
        "loss": float(loss),
        "gradients": grads,
    }


def to_json(value, indent=0):
    """JSON with one key per line and every list of numbers on one line."""
    pad = " " * indent
    if isinstance(value, dict):
        items = [f'{pad} {json.dumps(k)}: {to_json(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [pad + " " + to_json(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def main():
    torch.set_num_threads(1)
    fixture = {
        "generator": {
            "script": "tools/make_torch_reference.py",
            "command": COMMAND,
            "torch_version": torch.__version__,
            "python_version": sys.version.split()[0],
            "dtype": "float64",
            "dropout": 0.0,
        },
        "cases": [make_case(c) for c in CASES],
    }
    sys.stdout.write(to_json(fixture) + "\n")


if __name__ == "__main__":
    main()
