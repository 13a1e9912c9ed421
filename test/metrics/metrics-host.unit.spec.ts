import { loadConfig } from '../../src/config';

describe('the address of the metrics listener', () => {
  it('is this machine only unless BACKPLANE_METRICS_HOST names another', () => {
    expect(loadConfig({ BACKPLANE_DATA_DIR: '/tmp/bp-data', BACKPLANE_METRICS_PORT: '9464' }).metricsHost).toBe('127.0.0.1');
    expect(loadConfig({ BACKPLANE_DATA_DIR: '/tmp/bp-data', BACKPLANE_METRICS_PORT: '9464', BACKPLANE_METRICS_HOST: '0.0.0.0' }).metricsHost).toBe('0.0.0.0');
  });
});
