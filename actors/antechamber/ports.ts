/**
 * What the Antechamber needs from the world, as interfaces; adapters/vectors implements them on
 * LanceDB. No implementation here.
 */

/** A question Salience rejected as off-topic, with its vector. */
export interface RejectedQuestion {
  readonly inputId: string;
  /** The stream sequence of the InputRejected event. */
  readonly seq: number;
  readonly nightId: string;
  readonly vector: Float32Array;
}

/**
 * The Antechamber's vectors: a projection of the log (InputRejected with cause "off-topic"), kept in a
 * vector table that is rebuilt from the log whenever it is missing.
 */
export interface RejectedVectors {
  /** Brings the table up to the log's sequence `seq` and returns the rejections at or before it, in log order. */
  upTo(seq: number): Promise<RejectedQuestion[]>;
}
