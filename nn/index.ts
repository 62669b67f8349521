/** Neural-network modules, initialisers, losses, optimizers and checkpoint I/O. */
export * from './module.js';
export * from './layers.js';
export * from './transformer.js';
export * as init from './init.js';
export * from './losses.js';
export * from './optim.js';
export * from './io.js';
export * from './checkpoint/index.js';
