// The layering of the code, checked before the tests run (`npm run deps`, part of `npm run pretest`).
// From the bottom: pure rules (`pipeline`, `errors`, `queue`'s keys, which import no other Gofer lib)
// → `config` (which may use them, e.g. the pipeline duration parser) → `dal` (all SQL) →
// the libs that own a concern (`events`, `auth`, `secrets`, `object-store`, `catalog`, `logs`,
// `scheduler`) → `notifiers` (which uses events and secrets) → `engine` (runs) → `apps/` on top. See
// the README's layout table.
const lib = (name) => `^libs/${name}/`;
const importOf = (...names) => `^libs/(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make module start-up order fragile and hide layering mistakes.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'libs-never-import-apps',
      severity: 'error',
      comment: 'Libs are imported by apps, never the other way round.',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'libs-import-libs-by-package-name',
      severity: 'error',
      comment: 'A lib reaches another only through its public index (@gofer/<lib>), not into its files.',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/([^/]+)/src/(?!index\\.ts$)', pathNot: '^libs/$1/' },
    },
    {
      name: 'pure-libs-stay-pure',
      severity: 'error',
      comment: 'pipeline, errors and queue are pure code: no other Gofer lib, no I/O client.',
      from: { path: importOf('pipeline', 'errors', 'queue'), pathNot: '\\.spec\\.ts$' },
      to: { path: ['^libs/', '(^|/)node_modules/(pg|typeorm|ioredis|bullmq|dockerode|@aws-sdk|@nestjs)/'], pathNot: '^libs/(pipeline|errors|queue)/' },
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment: 'The SDK is packed and used on its own: it imports no other Gofer lib (its specs may, to check its output).',
      from: { path: lib('sdk'), pathNot: '\\.spec\\.ts$' },
      to: { path: '^libs/', pathNot: lib('sdk') },
    },
    {
      name: 'config-is-near-the-bottom',
      severity: 'error',
      comment: 'Configuration is read by everything, so it imports no other Gofer lib but the pure ones below it (pipeline, errors, queue).',
      from: { path: lib('config') },
      to: { path: '^libs/', pathNot: importOf('config', 'pipeline', 'errors', 'queue') },
    },
    {
      name: 'dal-is-below-the-services',
      severity: 'error',
      comment: 'The data-access layer holds statements, not rules: it imports only config, errors and pure libs.',
      from: { path: lib('dal') },
      to: { path: '^libs/', pathNot: importOf('dal', 'config', 'errors', 'pipeline', 'queue') },
    },
    {
      name: 'only-dal-talks-to-postgres-directly',
      severity: 'error',
      comment: 'Every SQL statement lives in libs/dal repositories; the pg driver and TypeORM are the dal\'s alone.',
      from: { path: '^(libs|apps)/', pathNot: [lib('dal'), '\\.spec\\.ts$'] },
      to: { path: '(^|/)node_modules/(pg|typeorm)/' },
    },
    {
      name: 'only-apps-import-the-engine',
      severity: 'error',
      comment: 'The engine (runs) is the top lib: the concerns it uses must not depend on it.',
      from: { path: '^libs/', pathNot: lib('engine') },
      to: { path: lib('engine') },
    },
    {
      name: 'concern-libs-do-not-import-each-other-upwards',
      severity: 'error',
      comment: 'events, scheduler and logs sit below auth, secrets, object-store and catalog.',
      from: { path: importOf('events', 'scheduler', 'logs') },
      to: { path: importOf('auth', 'secrets', 'object-store', 'catalog') },
    },
    {
      name: 'notifiers-sit-above-the-concerns-they-use',
      severity: 'error',
      comment: 'libs/notifiers uses dal, events and secrets (its settings are sealed); the engine runs notifiers, not the other way round.',
      from: { path: importOf('dal', 'events', 'secrets', 'scheduler', 'logs', 'auth', 'object-store', 'catalog') },
      to: { path: lib('notifiers') },
    },
    {
      name: 'notifier-apps-stand-alone',
      severity: 'error',
      comment: 'The built-in notifiers are each bundled into their own image: plain Node and npm packages, nothing else of the monorepo.',
      from: { path: '^apps/(notifier-[^/]+)/' },
      to: { path: ['^libs/', '^apps/', '^test/', '^bench/'], pathNot: '^apps/$1/' },
    },
    {
      name: 'builtin-triggers-use-only-the-sdk',
      severity: 'error',
      comment: 'Built-in triggers use only the SDK: each is its own image, written as anyone would write a trigger (@gofer/sdk and npm packages), never with the rest of the monorepo.',
      from: { path: '^apps/(trigger-[^/]+)/' },
      to: { path: ['^libs/', '^apps/', '^test/', '^bench/'], pathNot: ['^libs/sdk/', '^apps/$1/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
