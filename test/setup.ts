// @peculiar/x509 needs a Reflect metadata polyfill before it is imported.
import 'reflect-metadata'
