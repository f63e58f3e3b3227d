import { resolve } from "node:path";
import { AdapterError, reasonOf } from "./errors.ts";
import { metaValue, readGguf } from "./gguf/reader.ts";
import { fileSha256 } from "./identity.ts";
import type { LoadedAdapter } from "./ports.ts";

/**
 * LoRA adapters known to one model, by sha256. Files are checked here (GGUF header, type
 * "adapter", same architecture as the base); llama.cpp reads them when a context first uses them.
 */
export class AdapterRegistry {
  private readonly byId = new Map<string, LoadedAdapter>();
  constructor(private readonly architecture: string) {}

  async register(path: string, scale: number): Promise<LoadedAdapter> {
    const abs = resolve(path);
    let arch: unknown, type: unknown;
    try {
      const file = readGguf(abs);
      arch = metaValue(file, "general.architecture");
      type = metaValue(file, "general.type");
    } catch (e) {
      throw new AdapterError({ adapter: abs, reason: reasonOf(e) });
    }
    if (type !== "adapter") throw new AdapterError({ adapter: abs, reason: `general.type is ${String(type)}, not "adapter"` });
    if (arch !== this.architecture) throw new AdapterError({ adapter: abs, reason: `architecture ${String(arch)} does not match the base model's ${this.architecture}` });
    const id = await fileSha256(abs);
    const adapter = { id, path: abs, scale };
    this.byId.set(id, adapter);
    return adapter;
  }

  get(id: string): LoadedAdapter {
    const a = this.byId.get(id);
    if (a === undefined) throw new AdapterError({ adapter: id, reason: "not loaded (call loadAdapter first)" });
    return a;
  }
}
