/** `sys:` section: MQTT `$SYS` topics (plugins/sys). */
import type { FromSchema } from '../../config/infer.js';

export const sysSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    intervalSeconds: { type: 'integer', minimum: 0, maximum: 86400, 'x-hint': 'an integer from 0 (off) to 86400', default: 10 },
  },
} as const;

export type SysConfig = FromSchema<typeof sysSchema>;
