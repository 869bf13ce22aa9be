/** `lwprov sim` options of the field-device simulators (zephyr-shell, nrf-at, mcumgr). */
import { Flags } from '@oclif/core'

export const fieldSimFlags = {
  'at-shell': Flags.boolean({ summary: 'nrf-at: reach the modem through an NCS shell (at \'<cmd>\') instead of raw AT.', helpGroup: 'FIELD DEVICES' }),
  'modem-firmware': Flags.string({ summary: 'nrf-at: the AT+CGMR answer (default mfw_nrf9160_1.3.5).', helpGroup: 'FIELD DEVICES' }),
  'smp-idle-ms': Flags.integer({ summary: 'mcumgr: Anjay\'s end-of-file inactivity before it provisions (default 15000, as the firmware).', min: 0, helpGroup: 'FIELD DEVICES' }),
  'context-delay-ms': Flags.integer({ summary: 'zephyr-shell: answer "no lwm2m context yet" this long after boot (default 0).', min: 0, helpGroup: 'FIELD DEVICES' }),
  'no-crc32': Flags.boolean({ summary: 'zephyr-shell: firmware without `lwm2m read … -crc32` (read-back by hex dump).', helpGroup: 'FIELD DEVICES' }),
}

export function simDeviceOptions(f: { 'at-shell'?: boolean; 'modem-firmware'?: string | undefined; 'smp-idle-ms'?: number | undefined; 'context-delay-ms'?: number | undefined; 'no-crc32'?: boolean }): Record<string, unknown> {
  return {
    ...(f['at-shell'] ? { shell: true } : {}),
    ...(f['modem-firmware'] === undefined ? {} : { firmware: f['modem-firmware'] }),
    ...(f['smp-idle-ms'] === undefined ? {} : { idleMs: f['smp-idle-ms'] }),
    ...(f['context-delay-ms'] === undefined ? {} : { contextDelayMs: f['context-delay-ms'] }),
    ...(f['no-crc32'] ? { crc32: false } : {}),
  }
}
