/**
 * An upload's state object, `uploads/<id>/state`: its body is the staged tail (the bytes after the last
 * whole part, < 5 MiB), its user metadata says which multipart upload holds the parts and how many of
 * them count. Writing it is the commit point of an append: parts an append uploaded before failing are
 * not counted, and the next append overwrites them under the same part numbers.
 */

export interface UploadState {
  /** The multipart upload holding the parts; '' until the first part is uploaded. */
  multipartId: string;
  /** Parts 1..parts count. */
  parts: number;
  /** Bytes in the counted parts. */
  partBytes: number;
}

const MULTIPART = 'multipart-id';
const PARTS = 'parts';
const PART_BYTES = 'part-bytes';

export function stateMetadata(state: UploadState): Record<string, string> {
  return { [MULTIPART]: state.multipartId, [PARTS]: String(state.parts), [PART_BYTES]: String(state.partBytes) };
}

/** The state in an object's metadata; throws on an object that is not an upload state. */
export function parseStateMetadata(metadata: Record<string, string> | undefined, key: string): UploadState {
  const parts = Number(metadata?.[PARTS]);
  const partBytes = Number(metadata?.[PART_BYTES]);
  const multipartId = metadata?.[MULTIPART] ?? '';
  if (!Number.isSafeInteger(parts) || parts < 0 || !Number.isSafeInteger(partBytes) || partBytes < 0 || (parts > 0 && multipartId === '')) {
    throw new Error(`${key} is not an upload state object (metadata ${JSON.stringify(metadata ?? {})})`);
  }
  return { multipartId, parts, partBytes };
}
