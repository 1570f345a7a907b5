// The package ships JavaScript only; espeak-engine.ts types the parts it uses.
declare module '@echogarden/espeak-ng-emscripten' {
  const createModule: (options?: object) => Promise<unknown>;
  export default createModule;
}
