/**
 * Composition root for label outputs: resolves the format and layout from flags and hands the core the printer
 * connector (the socket adapter), so commands stay thin and tests can run the core without a network.
 */
import { existsSync, statSync } from 'node:fs'

import { connectPrinter } from '../adapters/label-printer.js'
import { checkUrlTemplate } from '../core/labels/payload.js'
import { type LabelFormat, type LabelOutput, labelFormatFor, openLabelOutput } from '../core/labels/output.js'
import { type PerDeviceLabels, perDeviceLabels } from '../core/labels/per-device.js'

export interface LabelFlagValues {
  'label-format'?: string | undefined
  'label-layout'?: string | undefined
  'claim-url'?: string | undefined
  force?: boolean | undefined
}

/** Opens `target` (file, PNG directory or tcp:// printer) for labels, before any claim code exists. */
export function openLabelsFromFlags(target: string, flags: LabelFlagValues, o: { secret: boolean; flag: string; title?: string }): Promise<LabelOutput> {
  const isDir = existsSync(target) && statSync(target).isDirectory()
  const format = labelFormatFor(target, flags['label-format'], isDir, o.flag)
  return openLabelOutput(target, {
    format,
    layout: flags['label-layout'],
    urlTemplate: flags['claim-url'] ? checkUrlTemplate(flags['claim-url']) : undefined,
    secret: o.secret,
    force: flags.force,
    flag: o.flag,
    ...(o.title ? { title: o.title } : {}),
    connect: (url) => connectPrinter(url),
  })
}

/** The station's per-device labels (`--labels-per-device DIR|tcp://…`). */
export function stationLabels(target: string, flags: LabelFlagValues, warn: (text: string) => void): PerDeviceLabels {
  return perDeviceLabels(target, {
    format: flags['label-format'] as LabelFormat | undefined,
    layout: flags['label-layout'],
    urlTemplate: flags['claim-url'] ? checkUrlTemplate(flags['claim-url']) : undefined,
    connect: (url) => connectPrinter(url),
    warn,
  })
}
