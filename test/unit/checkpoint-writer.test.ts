// The local mapping's checkpoint writer: off the delivery path, newest position wins, one write at a time, at most one per interval, flushed on stop.
import { CheckpointWriter } from "@ferry/core/local/checkpoint-writer";
import { describe, expect, it } from "vitest";

/** A store whose writes finish when the test says so. */
function slowStore() {
  const saved: string[] = [];
  const waiting: { seq: string; finish: (error?: Error) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const save = (seq: string) =>
    new Promise<void>((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      waiting.push({
        seq,
        finish: (error) => {
          inFlight--;
          if (error) return reject(error);
          saved.push(seq);
          resolve();
        },
      });
    });
  const finishNext = async (error?: Error) => {
    waiting.shift()?.finish(error);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { save, saved, waiting, finishNext, maxInFlight: () => maxInFlight };
}

describe("checkpoint writer", () => {
  it("never makes a batch wait, keeps one write in flight, and writes only the newest position next", async () => {
    const store = slowStore();
    const writer = new CheckpointWriter(store.save, 0);

    for (const seq of ["1", "2", "3", "4"]) writer.mark(seq);
    expect(store.waiting.map((w) => w.seq)).toEqual(["1"]);
    await store.finishNext();
    // 2 and 3 were overtaken while 1 was written: only 4 follows.
    expect(store.waiting.map((w) => w.seq)).toEqual(["4"]);
    await store.finishNext();

    expect(store.saved).toEqual(["1", "4"]);
    expect(store.maxInFlight()).toBe(1);
  });

  it("writes at most once per interval, and flush stores the newest position at once", async () => {
    const saved: string[] = [];
    let clock = 0;
    const writer = new CheckpointWriter(
      async (seq) => {
        saved.push(seq);
      },
      60_000,
      () => clock,
    );

    writer.mark("1");
    await writer.flush();
    clock = 1_000;
    for (const seq of ["2", "3", "4"]) writer.mark(seq);
    await new Promise((r) => setTimeout(r, 20));
    expect(saved).toEqual(["1"]);

    await writer.flush();
    expect(saved).toEqual(["1", "4"]);
  });

  it("throws a failed write once at the next mark and writes that position again", async () => {
    const store = slowStore();
    const writer = new CheckpointWriter(store.save, 0);
    writer.mark("1");
    await store.finishNext(new Error("control table unavailable"));

    expect(() => writer.mark("2")).toThrow("control table unavailable");
    writer.mark("2");
    await store.finishNext();
    const flushed = writer.flush();
    await store.finishNext();
    await flushed;

    expect(store.saved.at(-1)).toBe("2");
  });

  it("makes flush fail when the last write fails, so the mapping stops instead of losing it silently", async () => {
    const writer = new CheckpointWriter(async () => {
      throw new Error("AccessDenied");
    }, 0);
    writer.mark("1");

    await expect(writer.flush()).rejects.toThrow("AccessDenied");
  });
});
