'use strict'
// FerroModule: a global NestJS module providing one ferrocache client under
// FERRO_CLIENT, closed on application shutdown. Written in plain JS: the
// decorators TypeScript would apply are applied by hand.

const { Global, Inject, Module } = require('@nestjs/common')
const { createClient } = require('../../index')
const { invalid } = require('../errors')
const { describe } = require('../values')

/** The injection token of the client: `@Inject(FERRO_CLIENT)`, or `@InjectFerro()`. */
const FERRO_CLIENT = 'FERRO_CLIENT'

const InjectFerro = () => Inject(FERRO_CLIENT)

function checkClientOptions(options) {
  if (options !== undefined && typeof options !== 'string' && (options === null || typeof options !== 'object')) {
    throw invalid(`FerroModule options must be client options or a URL, got ${describe(options)}`)
  }
  return options
}

class FerroModule {
  constructor(client) {
    this._client = client
  }

  /** The client is created with `createClient(options)` (a URL or client options). */
  static forRoot(options) {
    checkClientOptions(options)
    return {
      module: FerroModule,
      global: true,
      providers: [{ provide: FERRO_CLIENT, useFactory: () => createClient(options) }],
      exports: [FERRO_CLIENT],
    }
  }

  /** The options come from `useFactory(...inject)`, which may return a promise. */
  static forRootAsync(opts) {
    if (opts === null || typeof opts !== 'object' || typeof opts.useFactory !== 'function') {
      throw invalid(`forRootAsync needs { useFactory, inject?, imports? }, got ${describe(opts)}`)
    }
    const { imports = [], inject = [], useFactory } = opts
    return {
      module: FerroModule,
      global: true,
      imports,
      providers: [
        {
          provide: FERRO_CLIENT,
          inject,
          useFactory: async (...deps) => createClient(checkClientOptions(await useFactory(...deps))),
        },
      ],
      exports: [FERRO_CLIENT],
    }
  }

  /** After every other module's shutdown hooks that may still use the client. */
  async onApplicationShutdown() {
    await this._client.close()
  }
}

Inject(FERRO_CLIENT)(FerroModule, undefined, 0)
Global()(FerroModule)
Module({})(FerroModule)

module.exports = { FerroModule, FERRO_CLIENT, InjectFerro }
