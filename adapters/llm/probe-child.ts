// Runs in a child process (see probe.ts): loads a GGUF with node-llama-cpp and evaluates a token,
// so that a llama.cpp GGML_ASSERT abort kills this process, not the Soul.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [path, kind] = process.argv.slice(2);
const report = (r: object) => process.stdout.write(`SOPHONT_PROBE ${JSON.stringify(r)}\n`);

try {
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, build: "never" });
  const model = await llama.loadModel({ modelPath: path!, gpuLayers: 0 });
  if (kind === "embedding") {
    const context = await model.createEmbeddingContext({ contextSize: 64, threads: 1 });
    await context.getEmbeddingFor("probe");
  } else {
    const context = await model.createContext({ contextSize: 64, threads: 1 });
    const tokens = model.tokenize("the probe");
    await context.getSequence().evaluateWithoutGeneratingNewTokens(tokens.length > 0 ? tokens : [model.tokens.bos ?? 0 as never]);
  }
  report({ ok: true });
  await llama.dispose();
} catch (e) {
  report({ ok: false, reason: e instanceof Error ? e.message : String(e) });
  process.exitCode = 3;
}
