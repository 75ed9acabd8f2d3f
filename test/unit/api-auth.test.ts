// The local server's token check: a verified token is kept until its exp, never past it.
import { describe, expect, it, vi } from "vitest";
import { hs256Tenant, signDevToken } from "../../examples/workflows/src/api/auth.ts";

const SECRET = "unit-secret-0123456789";
const request = (token: string) => ({ req: { header: (name: string) => (name === "authorization" ? `Bearer ${token}` : undefined) } }) as never;

describe("hs256Tenant's verified-token cache", () => {
  it("serves a kept token until its exp, then refuses it as expired", async () => {
    let clock = Date.now();
    const resolve = hs256Tenant(SECRET, { now: () => clock });
    const token = await signDevToken(SECRET, "tenant-a", { ttlSeconds: 60, now: clock });

    expect(await resolve(request(token))).toBe("tenant-a");
    expect(await resolve(request(token))).toBe("tenant-a");

    clock += 61_000;
    await expect(resolve(request(token))).rejects.toThrow(/invalid token \(JwtTokenExpired\)/);
    // Forgotten, not kept as refused: with the clock back, verification runs again and accepts it.
    clock -= 61_000;
    expect(await resolve(request(token))).toBe("tenant-a");
  });

  it("never lets a kept token vouch for another text: a tampered or foreign-secret token is verified and refused", async () => {
    const resolve = hs256Tenant(SECRET);
    const token = await signDevToken(SECRET, "tenant-a");
    expect(await resolve(request(token))).toBe("tenant-a");

    const [head, body] = token.split(".") as [string, string];
    const forgedBody = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, "base64url").toString()), tenant: "tenant-b" })).toString("base64url");
    await expect(resolve(request(`${head}.${forgedBody}.${token.split(".")[2]}`))).rejects.toThrow(/invalid token/);
    await expect(resolve(request(await signDevToken("another-secret-0123456789", "tenant-a")))).rejects.toThrow(/invalid token/);
  });

  it("keeps at most cacheSize tokens, dropping the oldest, which is verified again", async () => {
    const hmac = vi.spyOn(crypto.subtle, "verify");
    try {
      const resolve = hs256Tenant(SECRET, { cacheSize: 2 });
      const [t1, t2, t3] = await Promise.all(["t1", "t2", "t3"].map((t) => signDevToken(SECRET, t)));
      for (const token of [t1, t2, t1, t2]) await resolve(request(token as string));
      expect(hmac).toHaveBeenCalledTimes(2);

      await resolve(request(t3 as string)); // drops t1, the oldest
      expect(await resolve(request(t2 as string))).toBe("t2");
      expect(hmac).toHaveBeenCalledTimes(3);
      expect(await resolve(request(t1 as string))).toBe("t1");
      expect(hmac).toHaveBeenCalledTimes(4);
    } finally {
      hmac.mockRestore();
    }
  });

  it("verifies every time with cacheSize 0", async () => {
    const hmac = vi.spyOn(crypto.subtle, "verify");
    try {
      const resolve = hs256Tenant(SECRET, { cacheSize: 0 });
      const token = await signDevToken(SECRET, "tenant-a");
      for (let i = 0; i < 3; i++) await resolve(request(token));
      expect(hmac).toHaveBeenCalledTimes(3);
    } finally {
      hmac.mockRestore();
    }
  });
});
