import * as lancedb from "@lancedb/lancedb";
import type { RejectedQuestion, RejectedVectors } from "../../actors/antechamber/ports.ts";
import type { EventStore } from "../../events/store.ts";

/** The table's name in the Antechamber's LanceDB directory. */
export const REJECTED_TABLE = "antechamber_rejected";

interface Row {
  inputId: string;
  seq: number;
  nightId: string;
  vector: number[];
}

/**
 * The Antechamber's vectors in LanceDB (embedded, in a directory): a projection of the off-topic
 * InputRejected events. The log is the truth: a missing table is rebuilt from sequence 1, and the
 * table is brought up to any sequence asked for from the last one it holds.
 */
export class LanceRejectedVectors implements RejectedVectors {
  private table: lancedb.Table | undefined;
  /** The log has been read up to here into the table (it may hold no row at that sequence). */
  private syncedTo = 0;
  private dim: number | undefined;

  private constructor(private readonly db: lancedb.Connection, private readonly store: EventStore) {}

  /** Opens (or creates) the LanceDB directory; the table itself is made on first use. */
  static async open(dir: string, store: EventStore): Promise<LanceRejectedVectors> {
    return new LanceRejectedVectors(await lancedb.connect(dir), store);
  }

  async upTo(seq: number): Promise<RejectedQuestion[]> {
    await this.sync(seq);
    if (!this.table) return [];
    const rows = (await this.table.query().where(`seq <= ${Math.floor(seq)}`).toArray()) as Array<Row & { vector: ArrayLike<number> }>;
    return rows
      .map((r) => ({ inputId: r.inputId, seq: Number(r.seq), nightId: r.nightId, vector: Float32Array.from(r.vector) }))
      .sort((a, b) => a.seq - b.seq);
  }

  /** Drops the table (the next read rebuilds it from the log). */
  async drop(): Promise<void> {
    if ((await this.db.tableNames()).includes(REJECTED_TABLE)) await this.db.dropTable(REJECTED_TABLE);
    this.forget();
  }

  /** How many questions the table holds now. */
  async count(): Promise<number> {
    return (await this.db.tableNames()).includes(REJECTED_TABLE) ? (await this.db.openTable(REJECTED_TABLE)).countRows() : 0;
  }

  private forget(): void {
    this.table = undefined;
    this.syncedTo = 0;
    this.dim = undefined;
  }

  private async sync(seq: number): Promise<void> {
    const exists = (await this.db.tableNames()).includes(REJECTED_TABLE);
    if (!exists) this.forget();
    else if (!this.table) {
      // Opened by an earlier process: resume after the last row it holds.
      this.table = await this.db.openTable(REJECTED_TABLE);
      const rows = (await this.table.query().select(["seq", "vector"]).toArray()) as Row[];
      this.syncedTo = rows.reduce((m, r) => Math.max(m, Number(r.seq)), 0);
      this.dim = rows[0] ? rows[0].vector.length : undefined;
    }
    if (seq <= this.syncedTo) return;
    const fresh: Row[] = [];
    for await (const e of this.store.read({ from: { seq: this.syncedTo + 1 }, until: { seq }, types: new Set(["InputRejected"]) })) {
      if (e.type !== "InputRejected" || e.data.cause !== "off-topic") continue;
      this.dim ??= e.data.questionVector.length;
      // One table, one embedder: vectors of another length are not comparable and stay out.
      if (e.data.questionVector.length !== this.dim) continue;
      fresh.push({ inputId: e.data.inputId, seq: e.seq, nightId: e.data.nightId, vector: [...e.data.questionVector] });
    }
    if (fresh.length > 0) {
      if (this.table) await this.table.add(fresh as unknown as Record<string, unknown>[]);
      else this.table = await this.db.createTable(REJECTED_TABLE, fresh as unknown as Record<string, unknown>[]);
    }
    this.syncedTo = seq;
  }
}
