/**
 * Shadow metadata: a tree that mirrors a state section with `{ timestamp }` (epoch seconds) on
 * every leaf; arrays are leaves because they replace as a whole.
 *
 * Deliberate difference from AWS: AWS stamps every leaf named in an update, even when its value is
 * unchanged. We stamp only leaves whose value changed, so a leaf's timestamp says since when it
 * has held that value; "when did the device last write" is the document's own `timestamp` and the
 * history table. A device re-reporting the same state therefore leaves metadata untouched.
 */
import type {
  JsonObject,
  JsonValue,
  MetadataLeaf,
  MetadataNode,
  MetadataTree,
} from '../../device-sdk/protocol/shadow.js';
import { isJsonObject, jsonEqual } from './json.js';

export function isMetadataLeaf(node: MetadataNode | undefined): node is MetadataLeaf {
  return node !== undefined && typeof node.timestamp === 'number';
}

const subtree = (node: MetadataNode | undefined): MetadataTree =>
  node === undefined || isMetadataLeaf(node) ? {} : node;

/**
 * Metadata for `next`, derived from the previous state and metadata: a leaf keeps its old
 * timestamp when its value is unchanged, and gets `timestamp` otherwise.
 */
export function nextMetadata(
  prev: JsonObject,
  prevMeta: MetadataTree,
  next: JsonObject,
  timestamp: number,
): MetadataTree {
  const out: MetadataTree = {};
  for (const [key, value] of Object.entries(next)) {
    const before = prev[key];
    const meta = prevMeta[key];
    if (isJsonObject(value)) {
      out[key] = nextMetadata(isJsonObject(before) ? before : {}, subtree(meta), value, timestamp);
    } else {
      out[key] = jsonEqual(before, value) && isMetadataLeaf(meta) ? meta : { timestamp };
    }
  }
  return out;
}

/**
 * The metadata of the leaves of `shape` (an update request's patch, or a delta), read from `meta`.
 * A leaf with no metadata (a `null` that deleted it) gets `fallback`, the time of the deletion.
 * Subtrees without leaves (a patch `{ "a": {} }`) are left out, as in state.
 */
export function metadataFor(shape: JsonObject, meta: MetadataTree, fallback: number): MetadataTree {
  const out: MetadataTree = {};
  for (const [key, value] of Object.entries(shape)) {
    const node = nodeFor(value, meta[key], fallback);
    if (node !== undefined) out[key] = node;
  }
  return out;
}

function nodeFor(shape: JsonValue, meta: MetadataNode | undefined, fallback: number): MetadataNode | undefined {
  if (!isJsonObject(shape)) return isMetadataLeaf(meta) ? meta : { timestamp: fallback };
  const tree = metadataFor(shape, subtree(meta), fallback);
  return Object.keys(tree).length === 0 ? undefined : tree;
}
