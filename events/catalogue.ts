import type { EventDefinition, EventOf } from "./define.ts";
import { InputDropped, InputForgotten, InputReceived, InputRefused, InputRepeated } from "./input.ts";
import { NightCompleted, NightStarted } from "./night.ts";
import { AntechamberClustered, CentroidMoved, DriftDetected, MitosisApproved, MitosisDeclined, MitosisProposed, SatelliteBorn } from "./antechamber.ts";
import { trainingDefinitions } from "./training.ts";
import { egressDefinitions } from "./egress.ts";
import { provisioningDefinitions } from "./provisioning.ts";
import { contentDefinitions } from "./content.ts";
import { AnchorAdded, InputAccepted, InputRejected, InputScored, PreoccupationSeeded, ShadowRecorded } from "./salience.ts";

/** Every event type Sophont writes. The codec knows only these; the README's catalogue is made from them. */
export const definitions = [
  NightStarted,
  NightCompleted,
  InputReceived,
  InputRepeated,
  InputRefused,
  InputForgotten,
  InputDropped,
  PreoccupationSeeded,
  InputScored,
  InputAccepted,
  InputRejected,
  ShadowRecorded,
  AnchorAdded,
  AntechamberClustered,
  MitosisProposed,
  MitosisApproved,
  MitosisDeclined,
  SatelliteBorn,
  DriftDetected,
  CentroidMoved,
  ...trainingDefinitions,
  ...egressDefinitions,
  ...provisioningDefinitions,
  ...contentDefinitions,
] as const;

export type DomainEvent = EventOf<(typeof definitions)[number]>;
export type EventType = DomainEvent["type"];
export type EventData<T extends EventType> = Extract<DomainEvent, { type: T }>["data"];

const byType = new Map<string, EventDefinition>(definitions.map((d) => [d.type, d as EventDefinition]));

export const definitionOf = (type: string): EventDefinition | undefined => byType.get(type);
