/**
 * The nvidia-smi XML reader against output it must survive: invalid references, hostile shapes that make
 * backtracking regexes take seconds, deep nesting. Every failure is a parse problem naming nvidia-smi, never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml, readXml } from '../../../agent/discovery/nvidia-smi.js';

/** A minimal report in nvidia-smi's shape (`nvidia-smi -q -x`, DTD v12/v13: one `<gpu id=…>` per device). */
function report(productName: string): string {
  return [
    '<?xml version="1.0" ?>',
    '<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">',
    '<nvidia_smi_log>',
    '\t<driver_version>570.124.06</driver_version>',
    '\t<attached_gpus>1</attached_gpus>',
    '\t<gpu id="00000000:19:00.0">',
    `\t\t<product_name>${productName}</product_name>`,
    '\t\t<uuid>GPU-5f3b2c1a-0000-0000-0000-000000000000</uuid>',
    '\t</gpu>',
    '</nvidia_smi_log>',
    '',
  ].join('\n');
}

function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

describe('nvidia-smi XML: references', () => {
  it.each([
    ['&#x110000;', /character reference &#x110000; is not a character XML allows at line 7/],
    ['&#1114112;', /character reference &#1114112; is not a character XML allows/],
    ['&#99999999999999999999;', /invalid reference|not followed by a reference/],
    ['&#xD800;', /is not a character XML allows/],
    ['&#0;', /is not a character XML allows/],
    ['&nbsp;', /unknown or invalid reference "&nbsp;"/],
    ['H100 & co', /"&" not followed by a reference/],
    ['&#x;', /unknown or invalid reference/],
  ])('%s is a parse problem naming nvidia-smi', (ref, message) => {
    const r = parseNvidiaSmiXml(report(`NVIDIA ${ref}`));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/^nvidia-smi -q -x output is not valid XML: /);
      expect(r.error).toMatch(message);
    }
  });

  it.each([
    ['&amp;', 'NVIDIA H100 & 80GB'],
    ['&#x41;', 'NVIDIA H100 A 80GB'],
    ['&#65;', 'NVIDIA H100 A 80GB'],
    ['&#x1F600;', 'NVIDIA H100 \u{1F600} 80GB'],
  ])('%s decodes', (ref, name) => {
    const r = readXml(report(`NVIDIA H100 ${ref} 80GB`));
    expect(r.ok && (r.doc.nvidia_smi_log as { gpu: { product_name: string }[] }).gpu[0]!.product_name).toBe(name);
  });

  it('property: any numeric reference decodes to its character or is reported, never thrown', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.boolean(), (code, hex) => {
        const ref = hex ? `&#x${code.toString(16)};` : `&#${code};`;
        const r = parseNvidiaSmiXml(report(`A${ref}B`));
        if (isXmlChar(code)) {
          expect(r.ok).toBe(true);
        } else {
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error).toContain('nvidia-smi');
        }
      }),
    );
  });
});

describe('nvidia-smi XML: hostile shapes finish in linear time and are reported', () => {
  // each of these took seconds to hours with backtracking regexes; at these sizes a quadratic reader would time out
  it.each([
    ['an unclosed tag of spaces', `<nvidia_smi_log><a${' '.repeat(200_000)}`, /truncated|stray/],
    ['an unclosed tag of spaces then text', `<nvidia_smi_log><a${' '.repeat(200_000)}x`, /truncated|stray/],
    [
      'a long attribute name without a value',
      `<nvidia_smi_log><gpu ${'a'.repeat(200_000)}></gpu></nvidia_smi_log>`,
      /attribute a+ has no value/,
    ],
    [
      'unclosed quotes',
      `<nvidia_smi_log><gpu ${'a="a='.repeat(50_000)}></gpu></nvidia_smi_log>`,
      /attribute|malformed/,
    ],
    [
      'many ampersands',
      `<nvidia_smi_log><a>${'&'.repeat(200_000)}</a></nvidia_smi_log>`,
      /"&" not followed by a reference/,
    ],
    ['many unclosed comments', `<nvidia_smi_log>${'<!--'.repeat(50_000)}`, /stray|truncated/],
    [
      'deep nesting',
      `<nvidia_smi_log>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</nvidia_smi_log>`,
      /elements nest deeper than 64/,
    ],
  ])('%s', (_name, xml, message) => {
    const r = parseNvidiaSmiXml(xml);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/^nvidia-smi -q -x/);
      expect(r.error).toMatch(message);
    }
  });

  it('property: never throws, whatever the text (random XML-ish pieces)', () => {
    const piece = fc.constantFrom(
      '<nvidia_smi_log>',
      '</nvidia_smi_log>',
      '<gpu id="00000000:19:00.0">',
      '</gpu>',
      '<a>',
      '</a>',
      '<b/>',
      "<c x='1' />",
      '&amp;',
      '&#x110000;',
      '&#65;',
      '&',
      '<!--',
      '-->',
      '<?',
      '?>',
      '<',
      '>',
      '"',
      ' ',
      '\n',
      'text',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const r = parseNvidiaSmiXml(pieces.join(''));
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(r.error).toMatch(/nvidia-smi/);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(() => parseNvidiaSmiXml(s)).not.toThrow();
        expect(() => parseNvidiaSmiXml(`<nvidia_smi_log>${s}</nvidia_smi_log>`)).not.toThrow();
      }),
    );
  });
});
