/** Wires validation and admission plugins into a registry (kept apart so each plugin stays a small module). */
import type { Registry } from './registry.js';

export interface ValidationSettings {
  deviceTaints: boolean;
}

export function installValidation(_registry: Registry, _settings: ValidationSettings): void {}

export function installAdmission(_registry: Registry): void {}
