import { defineCommand } from 'citty';
import type { Runtime } from '../../core/ports.ts';
import { VERSION } from '../../core/version.ts';

export function versionCommand(runtime: Runtime) {
  return defineCommand({
    meta: { name: 'version', description: 'Print the version and the runtime' },
    run() {
      runtime.stdout.write(`holdfast ${VERSION} (${runtime.name} ${runtime.version})\n`);
    },
  });
}
