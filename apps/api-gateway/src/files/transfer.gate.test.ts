import { createGate } from './transfer.gate';

describe('the file transfer gate', () => {
  it('when more transfers arrive than run at once, then the next wait their turn in order and the line beyond its length is refused', async () => {
    const gate = createGate(2, 1);
    const first = await gate.enter();
    const second = await gate.enter();
    let thirdIn = false;
    const third = gate.enter().then((leave) => {
      thirdIn = true;
      return leave;
    });
    expect(await gate.enter()).toBeUndefined(); // the line (1) is full
    await Promise.resolve();
    expect(thirdIn).toBe(false);
    first!();
    first!(); // leaving twice frees one place only
    const leaveThird = await third;
    expect(thirdIn).toBe(true);
    expect(await Promise.race([gate.enter().then(() => 'entered'), new Promise((r) => setTimeout(() => r('waiting'), 20))])).toBe('waiting');
    second!();
    leaveThird!();
  });
});
