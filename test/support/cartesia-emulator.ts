/** The Cartesia emulator's entry point, kept where its callers import it; the modules are in cartesia-emulator/. */
export * from './cartesia-emulator/index.ts';
