import { BaseCommand } from '../cli/base-command.js'

export default class Version extends BaseCommand {
  static override summary = 'Print the lwprov version (also --version, -v).'
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json']

  async run(): Promise<{ name: string; version: string; platform: string; arch: string; node: string }> {
    await this.parse(Version)
    this.out(this.config.userAgent)
    return { name: this.config.name, version: this.config.version, platform: process.platform, arch: process.arch, node: process.version }
  }
}
