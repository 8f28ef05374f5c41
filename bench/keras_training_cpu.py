#!/usr/bin/env python3
"""Keras (3, TensorFlow backend) on the CPU at the recipe's shapes: the twin of
bench/torch_training_cpu.py for bench_training_cpu (bench/bench_training_cpu.cpp),
measured the same way.

Model, the recipe's own: LSTM(512, return_sequences) -> Dropout 0.1 ->
LSTM(256) -> Dense(256) -> Dropout 0.1 -> Dense(V = 127, softmax);
sparse categorical cross-entropy; Adamax (lr 0.01, betas 0.9/0.999, eps 1e-7).
float32, batch 256, 40 steps, scalar input token / V.

  training step: train_on_batch (forward + backward + Adamax, one compiled
                 graph), median of --reps after --warmup
  generation:    batch 1, one 40-token window per note, argmax: the model
                 called in a compiled tf.function (RESULT note_ms), and the
                 recipe's model.predict() per note (RESULT note_predict_ms,
                 which adds Keras's per-call set-up)
  FLOPs:         441 MFLOP per window forward + backward (performance.md)

TensorFlow picks its own thread counts (intra-op: one per core). Prints a
readable report and `RESULT key=value` lines, as torch_training_cpu.py does.

  KERAS_BACKEND=tensorflow python3 bench/keras_training_cpu.py [--reps N] [--warmup N] [--gen-reps N]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from training_bench import (BATCH, T, V, parse_args, print_results, print_training_rates,  # noqa: E402
                            timed, training_figures)


def recipe_model():
    model = keras.Sequential([
        keras.Input((T, 1)),
        keras.layers.LSTM(512, return_sequences=True),
        keras.layers.Dropout(0.1),
        keras.layers.LSTM(256),
        keras.layers.Dense(256),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(V, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.Adamax(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7))
    return model


def main():
    args = parse_args(__doc__.splitlines()[0])

    keras.utils.set_random_seed(1)
    model = recipe_model()
    rng = np.random.default_rng(2)
    batches = [((rng.integers(0, V, (BATCH, T, 1)) / V).astype(np.float32), rng.integers(0, V, (BATCH,)))
               for _ in range(4)]

    def step(i):
        x, y = batches[i % len(batches)]
        model.train_on_batch(x, y)

    train = timed(args.warmup, args.reps, step)

    window = (rng.integers(0, V, (1, T, 1)) / V).astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False))

    def note(_):
        nonlocal window
        nxt = int(np.argmax(forward(window)[0]))
        window = np.concatenate([window[:, 1:], np.array([[[nxt / V]]], np.float32)], axis=1)

    gen = timed(5, args.gen_reps, note)

    def note_predict(_):
        nonlocal window
        nxt = int(np.argmax(model.predict(window, verbose=0)[0]))
        window = np.concatenate([window[:, 1:], np.array([[[nxt / V]]], np.float32)], axis=1)

    gen_predict = timed(2, max(5, args.gen_reps // 4), note_predict)

    step_ms, note_ms = train[0], gen[0]
    windows_per_s, gflops = training_figures(step_ms)
    print(f"Keras {keras.__version__} (TensorFlow {tf.__version__}) CPU training benchmark: batch {BATCH}, T {T}, "
          f"LSTM 512/256, dense 256, V {V}, scalar input, float32; intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    print(f"training step, batch {BATCH} (train_on_batch) {step_ms:9.2f} ms (min {train[1]:.2f}, max {train[2]:.2f} "
          f"over {args.reps} reps)")
    print_training_rates(windows_per_s, gflops)
    print(f"generation, batch 1, compiled call     {note_ms:9.3f} ms per note (min {gen[1]:.3f}, max {gen[2]:.3f})")
    print(f"generation, batch 1, model.predict()   {gen_predict[0]:9.3f} ms per note")
    print_results(step_ms, windows_per_s, gflops, note_ms)
    print(f"RESULT note_predict_ms={gen_predict[0]:.4f}")


if __name__ == "__main__":
    main()
