import { defineConfig } from "vitest/config";

// Tiers by suffix: *.unit.test.ts are pure and fast, *.int.test.ts start real servers
// (nats-server, sshd) and load real GGUF models, *.e2e.test.ts drive the CLI.
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "test/bench/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
