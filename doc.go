// Package waqtor is an embeddable library for WhatsApp automation.
package waqtor
