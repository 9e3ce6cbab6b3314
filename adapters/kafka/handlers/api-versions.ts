/** ApiVersions: the advertised version ranges (protocol/apis.ts). Newer request versions are answered in connection.ts. */
import type { Handler } from '../context.js';
import { APIS } from '../protocol/apis.js';
import { ErrorCode } from '../protocol/errors.js';

const API_KEYS = APIS.map((a) => ({ apiKey: a.key, minVersion: a.min, maxVersion: a.max })).sort((a, b) => a.apiKey - b.apiKey);

export const handleApiVersions: Handler = () => ({ errorCode: ErrorCode.NONE, apiKeys: API_KEYS, throttleTimeMs: 0 });
