#!/usr/bin/env python3
"""PyTorch on the CPU at the recipe's shapes: the contender for
bench_training_cpu (bench/bench_training_cpu.cpp), measured the same way.

Model: nn.LSTM(1, 512) -> Dropout 0.1 -> nn.LSTM(512, 256), last step ->
Linear(256, 256) -> Dropout 0.1 -> Linear(256, V = 127); mean cross-entropy;
torch.optim.Adamax (lr 0.01, betas 0.9/0.999, eps 1e-7). float32, batch 256,
40 steps, scalar input token / V.

  training step: zero_grad + forward + backward + Adamax step, median of
                 --reps after --warmup
  generation:    batch 1, one 40-token window per note under no_grad, argmax
  FLOPs:         441 MFLOP per window forward + backward (performance.md)

Each figure is measured with torch.set_num_threads(1), with the default
and with one thread per core; the best is reported (performance.md: on these
machines one torch thread, with OpenBLAS using its own threads, is fastest).
Prints a readable report and `RESULT key=value` lines for bench/run_cpu_bench.sh.

  /usr/bin/python3 bench/torch_training_cpu.py [--reps N] [--warmup N] [--gen-reps N]
(Debian's torch: apt-get install -y python3-torch)
"""

import os

import torch
import torch.nn.functional as F

from training_bench import BATCH, T, V, parse_args, print_results, print_training_rates, timed, training_figures


class RecipeModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = torch.nn.LSTM(1, 512)
        self.drop1 = torch.nn.Dropout(0.1)
        self.lstm2 = torch.nn.LSTM(512, 256)
        self.dense1 = torch.nn.Linear(256, 256)
        self.drop2 = torch.nn.Dropout(0.1)
        self.dense2 = torch.nn.Linear(256, V)

    def forward(self, tokens):  # tokens [T, N], time-major
        x = (tokens.float() / V).unsqueeze(-1)
        h1, _ = self.lstm1(x)
        h2, _ = self.lstm2(self.drop1(h1))
        return self.dense2(self.drop2(self.dense1(h2[-1])))


def measure(threads, args):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = RecipeModel()
    opt = torch.optim.Adamax(model.parameters(), lr=0.01, betas=(0.9, 0.999), eps=1e-7)
    g = torch.Generator().manual_seed(2)
    batches = [(torch.randint(0, V, (T, BATCH), generator=g), torch.randint(0, V, (BATCH,), generator=g))
               for _ in range(4)]

    def step(i):
        tokens, targets = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(tokens), targets)
        loss.backward()
        opt.step()

    model.train()
    train = timed(args.warmup, args.reps, step)

    model.eval()
    window = torch.randint(0, V, (T, 1), generator=g)

    def note(_):
        nonlocal window
        with torch.no_grad():
            nxt = int(torch.argmax(model(window)[0]))
        window = torch.cat([window[1:], torch.tensor([[nxt]])])

    gen = timed(5, args.gen_reps, note)
    return train, gen


def main():
    args = parse_args(__doc__.splitlines()[0])

    default_threads = torch.get_num_threads()
    print(f"PyTorch {torch.__version__} CPU training benchmark: batch {BATCH}, T {T}, LSTM 512/256, dense 256, "
          f"V {V}, scalar input, float32; default threads {default_threads}")
    settings = sorted({1, default_threads, os.cpu_count() or 1})
    results = {}
    for threads in settings:
        (train, gen) = results[threads] = measure(threads, args)
        print(f"  torch threads {threads}: training step {train[0]:9.2f} ms (min {train[1]:.2f}, max {train[2]:.2f}"
              f" over {args.reps} reps), generation {gen[0]:.3f} ms per note")
    best_train = min(settings, key=lambda t: results[t][0][0])
    best_gen = min(settings, key=lambda t: results[t][1][0])
    step_ms = results[best_train][0][0]
    note_ms = results[best_gen][1][0]
    windows_per_s, gflops = training_figures(step_ms)
    print(f"training step, batch {BATCH} (best: {best_train} torch threads) {step_ms:9.2f} ms")
    print_training_rates(windows_per_s, gflops)
    print(f"generation, batch 1 (best: {best_gen} torch threads) {note_ms:9.3f} ms per note")
    print_results(step_ms, windows_per_s, gflops, note_ms)
    print(f"RESULT train_threads={best_train}")
    print(f"RESULT note_threads={best_gen}")


if __name__ == "__main__":
    main()
