/** Waiting for a relay to answer ready, as a balancer does: for the tests and the bench alike. */

export interface ReadinessAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Asks `/readyz` (through `request`) until it answers 200, and returns every answer. A relay answers ready once its
 * warm-up at start is over, or its bound (30 s) passed; `ms` bounds the wait beyond that.
 */
export async function untilReady(request: () => Promise<Response>, ms = 40_000): Promise<ReadinessAnswer[]> {
  const answers: ReadinessAnswer[] = [];
  for (const deadline = performance.now() + ms; answers.at(-1)?.status !== 200; ) {
    if (performance.now() > deadline) throw new Error(`/readyz did not answer 200 within ${ms} ms: ${JSON.stringify(answers.at(-1))}`);
    const answer = await request();
    answers.push({ status: answer.status, body: (await answer.json()) as Record<string, unknown> });
    if (answer.status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return answers;
}
