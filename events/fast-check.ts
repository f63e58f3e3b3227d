import type { Schema } from "effect";

/** A plain predicate compiled from a schema: true means the schema accepts the value as it is. */
export type Check = (u: unknown) => boolean;

const FINITE = "effect/schema/isFinite";

const checksOk = (ast: any): Check | null | true => {
  if (!ast.checks || ast.checks.length === 0) return true;
  if (ast.checks.length === 1 && ast.checks[0]?.annotations?.representation?.id === FINITE) return (u) => Number.isFinite(u);
  return null;
};

/**
 * Compiles the schemas events use (structs, strings, finite numbers, booleans, literals, arrays,
 * records, unions, optional and nullable fields) into plain predicates: the codec runs on every
 * message of every replay, and Effect's general parser costs microseconds per payload. Anything it
 * does not understand (transformations, other checks) returns null and the caller uses Effect; a
 * predicate that says false also hands over to Effect, which then explains why.
 */
export const compileCheck = (ast: any): Check | null => {
  if (ast.encoding) return null;
  const extra = checksOk(ast);
  if (extra === null) return null;
  const base = compileNode(ast);
  if (!base) return null;
  return extra === true ? base : (u) => base(u) && extra(u);
};

const compileNode = (ast: any): Check | null => {
  switch (ast._tag) {
    case "String":
      return (u) => typeof u === "string";
    case "Number":
      return (u) => typeof u === "number";
    case "Boolean":
      return (u) => typeof u === "boolean";
    case "Null":
      return (u) => u === null;
    case "Undefined":
      return (u) => u === undefined;
    case "Unknown":
    case "Any":
      return () => true;
    case "Literal":
      return (u) => u === ast.literal;
    case "Union": {
      const members = (ast.types as any[]).map(compileCheck);
      if (members.some((m) => m === null)) return null;
      return (u) => members.some((m) => m!(u));
    }
    case "Arrays": {
      const elements = (ast.elements as any[]).map(compileCheck);
      const rest = (ast.rest as any[]).map(compileCheck);
      if (elements.some((m) => m === null) || rest.some((m) => m === null) || rest.length > 1) return null;
      const item = rest[0] ?? null;
      return (u) => {
        if (!Array.isArray(u)) return false;
        if (!item && u.length !== elements.length) return false;
        for (let i = 0; i < u.length; i++) if (!(i < elements.length ? elements[i]! : item!)(u[i])) return false;
        return true;
      };
    }
    case "Objects": {
      const props = (ast.propertySignatures as any[]).map((p) => ({ name: p.name as string, optional: p.type.context?.isOptional === true, check: compileCheck(p.type) }));
      const index = (ast.indexSignatures as any[]).map((s) => ({ key: s.parameter, check: compileCheck(s.type) }));
      if (props.some((p) => p.check === null || typeof p.name !== "string") || index.some((s) => s.check === null || s.key._tag !== "String")) return null;
      return (u) => {
        if (typeof u !== "object" || u === null || Array.isArray(u)) return false;
        const o = u as Record<string, unknown>;
        for (const p of props) {
          if (!(p.name in o)) {
            if (p.optional) continue;
            return false;
          }
          if (!p.check!(o[p.name])) return false;
        }
        for (const s of index) for (const k of Object.keys(o)) if (!s.check!(o[k])) return false;
        return true;
      };
    }
    default:
      return null;
  }
};

/** The compiled predicate of a schema, or null when only Effect can judge it. */
export const checkOf = (schema: Schema.Top): Check | null => compileCheck(schema.ast);
